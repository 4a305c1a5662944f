"""mgnify-snake: MGnify's metagenomics production system as a Snakemake-centred package."""

__version__ = "0.1.0"
