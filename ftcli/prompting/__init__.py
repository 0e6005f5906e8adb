"""In-context learning (`ftcli prompt`): demonstrations, templates, scoring and answer parsing."""
