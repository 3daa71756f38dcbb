"""Entry point named as `program` by the W&B sweep YAMLs: `python cli.py train --mid_structure conv`."""

from unet1d.command import main

if __name__ == "__main__":
    main()
