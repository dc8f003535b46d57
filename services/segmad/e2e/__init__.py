"""Algorithm 1 end to end over the services, with simulated people working through the labelling API."""
