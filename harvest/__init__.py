"""harvest: who links where from Medium, and is the link nofollow?"""

__version__ = "0.1.0"
