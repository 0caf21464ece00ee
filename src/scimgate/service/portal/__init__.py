"""Read models and sessions of the web portal: the dashboard, the directory browser, the
mapping editors' previews, failure diagnoses, sign-in."""
