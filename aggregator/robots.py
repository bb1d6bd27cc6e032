"""robots.txt, obeyed for every request, including those that wait for the file.

Scrapy 2.19's ``RobotsTxtMiddleware`` has each request that arrives while a host's robots.txt is
still downloading await the same Deferred. The first waiter's callback returns None, so every
later waiter receives "no robots.txt" and is let through: with a few sources on one host, a
disallowed page was fetched. Each waiter here gets its own Deferred fed from the shared one.
"""

from __future__ import annotations

from scrapy import Request
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxt
from scrapy.robotstxt import RobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred


class RobotsTxtMiddleware(ScrapyRobotsTxt):
    async def robot_parser(self, request: Request) -> RobotParser | None:
        pending = self._parsers.get(urlparse_cached(request).netloc)
        if not isinstance(pending, Deferred):
            return await super().robot_parser(request)
        waiter: Deferred[RobotParser | None] = Deferred()

        def relay(result: RobotParser | None) -> RobotParser | None:
            waiter.callback(result)
            return result  # leave the result in the shared chain for the next waiter

        pending.addBoth(relay)
        return await maybe_deferred_to_future(waiter)
