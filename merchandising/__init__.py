"""Merchandising: rules a merchandiser writes (trigger, conditions, actions), content blocks, offers and coupons."""
