"""Sensors: new files to runs, failed and successful runs to e-mails."""
