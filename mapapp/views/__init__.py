"""One blueprint per concern: pages (people), api (machines), feeds (calendars, spreadsheets)."""
