//! Browser tests: the sign-in and approval pages in headless Chromium over WebDriver.
