"""Two-way sync between the store and a directory of markdown files."""
