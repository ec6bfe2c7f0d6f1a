"""Who is in which room right now, counted per connection so several tabs count once."""
