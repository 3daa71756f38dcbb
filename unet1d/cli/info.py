"""`unet1d info`: parameters per block and the middle block's cost for a resolved config."""

from __future__ import annotations

import typer

from unet1d.cli.common import ConfigFileOption, resolve_config


def info(ctx: typer.Context, config: ConfigFileOption = None) -> None:
    """Parameters per block and in total, and the middle block's per-sample cost."""
    from rich.console import Console
    from rich.table import Table

    from unet1d.data.representation import network_config
    from unet1d.model.summary import summarize

    resolved = resolve_config(config, ctx.args)
    model = network_config(resolved)  # what training builds: rot6d poses are a longer sequence
    summary = summarize(model)
    heads = f", {model.mid_num_heads} heads" if model.mid_structure == "attention" else ""
    title = f"UNet1D: {model.mid_structure} middle{heads}, base_channels {model.base_channels}"
    if model.pose_dim != resolved.model.pose_dim:
        title += f", {model.pose_dim} numbers a pose ({resolved.data.representation})"
    table = Table()  # the title on a line of its own: rich wraps a title to the table's width, mid-phrase
    table.add_column("block")
    table.add_column("parameters", justify="right")
    for name, count in summary.parameters_per_block.items():
        table.add_row(name, f"{count:,}")
    table.add_row("[bold]total[/bold]", f"[bold]{summary.total_parameters:,} ({summary.total_parameters / 1e6:.2f}M)")
    console = Console()
    console.print(title)
    console.print(table)
    mid = summary.mid
    console.print(f"size on disk (fp32 weights): {summary.fp32_megabytes:.1f} MiB")
    console.print(
        f"middle block input: {mid.channels} channels x {mid.length} positions ({mid.activation_floats:,} floats)"
    )
    if mid.structure == "attention":
        console.print(
            f"attention matrix per sample: {mid.length}x{mid.length} = "
            f"{mid.attention_floats_per_head:,} floats per head, {mid.attention_floats:,} for {mid.num_heads} heads"
        )
    console.print(f"middle block multiply-accumulates per sample: {mid.macs / 1e6:.1f}M")
