"""Video for the demo and for sites without a media server: simulated camera pictures, behind grants."""
