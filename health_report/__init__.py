"""Workspace health report: turns a DuckDB cache of this connector's streams into one self-contained HTML page.

Layers, each usable alone:
* `sync`    - PyAirbyte reads the connector (a subprocess) into its DuckDB cache (needs the `airbyte` package);
* `queries` - SQL over that DuckDB file, one function per report section (needs only `duckdb`);
* `charts`, `render` - plotly figures and the HTML page, plotly.js inlined so the file opens offline.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
