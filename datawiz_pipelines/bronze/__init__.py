"""Bronze: tenant source files read raw and untransformed, with lineage columns added."""
