"""The conversation: find references, read payment reports, run admin commands, word every reply."""
