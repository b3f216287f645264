"""The backend-first sign-in flow: from POST /sign-in/social to the provider and back."""
