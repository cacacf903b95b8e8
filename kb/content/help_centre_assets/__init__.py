"""Static files kb publish copies into the help centre (kb.content.help_centre)."""
