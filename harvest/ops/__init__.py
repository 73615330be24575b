"""Running harvest as a service: scrapyd's schedule and its safe start."""
