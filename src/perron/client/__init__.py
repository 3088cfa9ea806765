"""The researcher's side: Session and the grids it drives."""
