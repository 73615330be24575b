"""A shared crawl frontier on Redis, for several workers on several machines.

scrapy-redis provides the shared request queue and seen-set; this package adds
what a long harvest needs on top of it: requests a worker has taken are held
in Redis until their pages are stored, so a killed worker loses nothing (its
held requests go back to the queue once its heartbeat lapses), workers stop by
themselves when the whole job has gone quiet, and the job's crawl arguments
live in Redis, where ``harvest enqueue`` puts them.
"""

from harvest.frontier.redis_config import FrontierConfig, FrontierConfigError
from harvest.frontier.redis_frontier import Frontier

__all__ = ["Frontier", "FrontierConfig", "FrontierConfigError"]
