"""The layered crisis-language detector: rules and cues per language (languages/*.toml) and a
linear model over character and word n-grams (model.py, trained by train.py)."""
