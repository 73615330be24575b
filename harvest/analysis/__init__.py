"""What analysts read: the audit report, exports and terminal tables, formatting only.

The numbers come from :mod:`harvest.db` (every SQL string lives there); this
package turns them into HTML with inline charts, CSV, JSON Lines, Parquet,
graph files and aligned tables.
"""
