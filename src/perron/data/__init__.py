"""The data seam a station step reads through, and its sources."""
