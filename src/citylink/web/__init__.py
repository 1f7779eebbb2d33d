"""The situation board and the responder view: static pages served by citylink itself, offline."""
