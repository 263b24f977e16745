"""In-silico edits of promoter windows on the device (:mod:`promoter_cr.insilico.edits`)."""
