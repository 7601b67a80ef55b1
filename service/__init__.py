"""The shell every domain plugs into: settings, database, migrations, web app, staff, languages."""
