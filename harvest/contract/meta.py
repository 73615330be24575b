"""Request meta keys that more than the spider reads (the frontier keeps them in
its queue entries)."""

WALK_META = "harvest_walk"  # a GraphQL walk's URL, on each of its requests
