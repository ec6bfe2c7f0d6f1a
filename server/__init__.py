"""peerrooms: moderated peer rooms and meetings for Intensive Outpatient Programs."""
