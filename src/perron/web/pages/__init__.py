"""The pages, one module per persona: public (patients and citizens), researcher,
holder (data manager, IT officer), inbox (the deciding roles) and admin."""
