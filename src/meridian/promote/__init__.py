"""Promotions as git facts: the rules (Rego) judge a change of versions between environments;
`plan` turns a request into units and judges them, `land` renders, gates and commits each on a
branch, `publish` pushes it and opens its pull request (`context` holds what a run reads first).
Releases and rollbacks are promotions too."""
