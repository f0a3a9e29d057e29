"""Promotions as git facts: the rules (Rego) judge a change of versions between environments; the
engine plans, lands and publishes it as one commit on a branch; releases and rollbacks are
promotions too."""
