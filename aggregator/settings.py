"""Scrapy settings: polite, production defaults. ``newsagg`` loads this module itself, so every
command works from any working directory; ``scrapy.cfg`` points here for ``scrapy crawl``."""

from aggregator import __version__

BOT_NAME = "energy-news-aggregator"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"
USER_AGENT = f"energy-news-aggregator/{__version__} (+https://github.com/energy-news/aggregator)"

ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024  # after decompression; larger bodies are dropped
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 2
# Scrapy's default list less 429 and 503: those are "come back later"; the spider reads their
# Retry-After and the source backs off until then (aggregator/health.py) instead of retrying now.
RETRY_HTTP_CODES = [500, 502, 504, 522, 524, 408]
REDIRECT_MAX_TIMES = 5
METAREFRESH_MAXDELAY = 5  # meta-refresh hops count as redirects: a refresh loop ends at 5
NEWSAGG_SOURCE_DEADLINE = 600.0  # seconds from a source's first request; 0: none
NEWSAGG_MAX_TIME = 0.0  # the whole crawl (`--max-time`); 0: none
COOKIES_ENABLED = False

# A progress line on stderr when it is a terminal (`newsagg` sets NEWSAGG_PROGRESS then).
# LogLevel: records below LOG_LEVEL are not built at all (aggregator/crawllog.py).
EXTENSIONS = {"aggregator.progress.ProgressLine": 0, "aggregator.crawllog.LogLevel": 0}
NEWSAGG_PROGRESS = False

# No listening sockets during a crawl.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

# Names are checked where they are resolved (aggregator/resolver.py); DNS_RESOLVER is deprecated
# in Scrapy 2.19 in favour of this name.
TWISTED_DNS_RESOLVER = "aggregator.resolver.PolicyResolver"
NEWSAGG_ALLOW_PRIVATE = False  # True: fetch non-public addresses from any source (not advised)
NEWSAGG_RESOLVE: dict[str, str] = {}  # {"name": "address"} pins, like curl --resolve

DOWNLOADER_MIDDLEWARES = {
    "aggregator.netpolicy.AddressPolicyMiddleware": 50,
    # Next to the downloader, so a response from a refused peer is dropped before a redirect in it
    # is followed or its body decompressed.
    "aggregator.resolver.PeerAddressMiddleware": 950,
    # Late for requests (after DownloadTimeoutMiddleware has set download_timeout), early for
    # exceptions (a deadline's timeout is a cut, not something RetryMiddleware tries again).
    "aggregator.limits.DeadlineMiddleware": 960,
    # Just after HttpCompressionMiddleware (590) in the response chain, before meta refresh.
    "aggregator.limits.NestedGzipMiddleware": 585,
    # Just before it: a body that Content-Encoding calls gzip but is not fails in our words.
    "aggregator.limits.LyingEncodingMiddleware": 595,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "aggregator.limits.SafeMetaRefreshMiddleware": 580,
    # Scrapy's own lets requests that wait for robots.txt through; see aggregator/robots.py.
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "aggregator.robots.RobotsTxtMiddleware": 100,
}
ITEM_PIPELINES = {"aggregator.pipeline.StorePipeline": 300}

LOG_LEVEL = "WARNING"
# Scrapy's per-response and per-item DEBUG lines only when they would be shown (see the module).
LOG_FORMATTER = "aggregator.crawllog.CrawlLogFormatter"
# Where `scrapy crawl news` (not `newsagg`) finds its files; `newsagg` passes its own.
NEWSAGG_DB = None
NEWSAGG_SOURCES = None
