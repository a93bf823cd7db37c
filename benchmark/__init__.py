"""A tracked benchmark of CNN architectures for image classification."""
