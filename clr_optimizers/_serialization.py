"""Saving a custom `scale_fn`: by its registered Keras name."""

import keras


def serialize_scale_fn(scale_fn):
    """A registered `scale_fn` as its Keras serialization config.

    Raises:
        ValueError: If the function is not registered (a lambda cannot be).
    """
    name = keras.saving.get_registered_name(scale_fn)
    if keras.saving.get_registered_object(name) is not scale_fn:
        raise ValueError(
            "To save an optimizer whose clr['scale_fn'] is a custom function, "
            "register the function for Keras serialization: define it with "
            "`def` at module level and decorate it with "
            "`@keras.saving.register_keras_serializable()`; a lambda cannot be "
            f"registered. Received: clr['scale_fn']={scale_fn!r}"
        )
    return keras.saving.serialize_keras_object(scale_fn)


def deserialize_scale_fn(config, custom_objects=None):
    """The function that `serialize_scale_fn` saved as `config`."""
    return keras.saving.deserialize_keras_object(
        config, custom_objects=custom_objects
    )
