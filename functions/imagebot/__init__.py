"""The Telegram image bot's Cloud Functions logic: pure core, with cloud I/O at the edges."""
