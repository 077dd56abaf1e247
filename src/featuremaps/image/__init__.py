"""`featuremaps image PATH...`: what the trained network sees in a user's own picture."""
