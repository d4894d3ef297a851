"""Print the zoo's parameter counts against their published references, and MACs, as Markdown.

    .venv/bin/python benchmarks/zoo_table.py > /tmp/zoo.md

The zoo table of docs/commands/models.md is this script's output.
"""

from deploytool.workflows.zoo import describe_zoo


def markdown_table(rows) -> str:
    """The rows of :func:`describe_zoo` as a Markdown table with the deviation from the reference."""
    lines = ["| model | family | parameters | reference | deviation | MACs (224×224) | BN layers | training-only |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        reference = row["reference_params"]
        deviation = f"{(row['params'] - reference) / reference:+.2%}" if reference else "–"
        source = f"{reference:,} ({row['reference_source']})" if reference else "–"
        extras = ", ".join(row["training_only_outputs"]) or "–"
        lines.append(f"| {row['name']} | {row['family']} | {row['params']:,} | {source} | {deviation} "
                     f"| {row['macs'] / 1e9:.2f} G | {row['batchnorm_layers']} | {extras} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table(describe_zoo()))
