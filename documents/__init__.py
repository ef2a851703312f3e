"""What people read or upload: import readers (CSV, xlsx), the template and error workbooks, the
bank roster, statistics, notices (HTML and PDF) and the font they embed."""
