"""`python -m unet1d.cli ...` (used by the distributed launcher to start each rank)."""

from unet1d.cli import main

main()
