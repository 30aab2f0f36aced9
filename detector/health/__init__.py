"""Camera health and pictures: what the edge tells the service about each camera (`reporter`)."""
