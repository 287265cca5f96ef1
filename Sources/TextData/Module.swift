// TextData module
