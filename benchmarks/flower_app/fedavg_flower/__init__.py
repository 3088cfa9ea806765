"""FedAvg of logistic regression in numpy, run by Flower (see ``task`` for the maths)."""
