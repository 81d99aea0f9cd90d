"""English-Spanish Bible parallel corpus (KJV / Reina-Valera 1909); see README.md."""
