"""Wire models and the exception tree; every other package may import this one."""
