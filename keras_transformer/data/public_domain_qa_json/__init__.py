"""Data files of the `public_domain_qa` TFDS dataset (see README.md)."""
