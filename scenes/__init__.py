"""The lecture's Manim scenes. Presentation only: numbers come from the lab (``lab``)."""
