"""tts-ci: The Things Stack from source to AKS Automatic, as Dagger functions."""

from .main import TtsCi as TtsCi
