//! Dialogue flows: parsing, validation and the interpreter.
