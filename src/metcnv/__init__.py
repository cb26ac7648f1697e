"""metcnv: MET copy number and MET amplification calls from targeted NGS reads."""

__version__ = "0.1.0"
