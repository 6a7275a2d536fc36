"""Browser components of the dashboard that Panel does not provide (DOM built without innerHTML)."""
