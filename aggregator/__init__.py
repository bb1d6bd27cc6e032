"""energy-news aggregator: crawl energy-news sources into one SQLite file and publish RSS.

The Python API mirrors the CLI: :func:`crawl`, :func:`export_feeds`, :func:`load_sources`,
:class:`Store`, :func:`preview`.
"""

__version__ = "0.1.0"
